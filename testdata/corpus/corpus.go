// Package corpus generates the realistic Singer stream the benchmarks and
// the gencorpus connector use, so every throughput figure is measured on
// the same data.
package corpus

import (
	"fmt"
	"math/rand/v2"
)

// Singer generates a realistic Singer stream of about size bytes:
// SCHEMA messages, records of about 500 bytes in three streams (nested
// objects and arrays, escapes, non-ASCII text, numbers, booleans, nulls)
// and a STATE every 1000 records. It is deterministic.
func Singer(size int) (corpus []byte, records int) {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"alpha", "Bravo", "charlie", "délta", "écho", "foxtrot", "Grüße", "hôtel", "india",
		"juliett", "kilo", "Łódź", "mike", "november", "Ωmega", "papa", "東京", "quebec", "romeo", "sierra"}
	phrase := func(b []byte, n int) []byte {
		for i := 0; i < n; i++ {
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, words[r.IntN(len(words))]...)
		}
		return b
	}
	b := make([]byte, 0, size+4096)
	for _, s := range []string{"users", "orders", "events"} {
		b = fmt.Appendf(b, `{"type":"SCHEMA","stream":"%s","schema":{"type":"object","properties":{"id":{"type":"integer"}}},"key_properties":["id"]}`+"\n", s)
	}
	for len(b) < size {
		records++
		id := records
		switch records % 3 {
		case 0:
			b = fmt.Appendf(b, `{"type":"RECORD","stream":"users","record":{"id":%d,"name":"`, id)
			b = phrase(b, 2)
			b = fmt.Appendf(b, `","email":"user%d@example.com","active":%t,"score":%.3f,"address":{"street":"%d `, id, id%2 == 0, r.Float64()*100, r.IntN(999))
			b = phrase(b, 2)
			b = append(b, ` St.","city":"`...)
			b = phrase(b, 1)
			b = fmt.Appendf(b, `","zip":"%05d","geo":[%.5f,%.5f]},"tags":["`, r.IntN(99999), r.Float64()*180-90, r.Float64()*360-180)
			b = phrase(b, 1)
			b = append(b, `","`...)
			b = phrase(b, 1)
			b = append(b, `"],"bio":"He said \"`...)
			b = phrase(b, 6)
			b = append(b, `\"\n\tand left \u00e9l\u00e8ve \\ path C:\\tmp","deleted_at":null},"time_extracted":"2024-05-01T12:00:00Z"}`+"\n"...)
		case 1:
			b = fmt.Appendf(b, `{"type":"RECORD","stream":"orders","record":{"id":%d,"user_id":%d,"total":%d.%02d,"currency":"EUR","items":[`, id, r.IntN(100000), r.IntN(1000), r.IntN(100))
			for i := 0; i < 3; i++ {
				if i > 0 {
					b = append(b, ',')
				}
				b = fmt.Appendf(b, `{"sku":"SKU-%06d","qty":%d,"price":%d.99,"title":"`, r.IntN(1000000), 1+r.IntN(5), r.IntN(100))
				b = phrase(b, 3)
				b = append(b, `"}`...)
			}
			b = fmt.Appendf(b, `],"status":"shipped","created_at":"2024-04-%02dT10:%02d:00Z","note":"`, 1+r.IntN(28), r.IntN(60))
			b = phrase(b, 4)
			b = append(b, `"}}`+"\n"...)
		case 2:
			b = fmt.Appendf(b, `{"type":"RECORD","stream":"events","record":{"id":%d,"kind":"click","ts":%d,"props":{"page":"/p/%d","ref":"https://example.com/?q=`, id, 1714550000000+r.IntN(1e9), r.IntN(1000))
			b = phrase(b, 1)
			b = fmt.Appendf(b, `&x=1","ua":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36","dims":{"w":%d,"h":%d},"flags":[true,false,null]},"payload":"`, r.IntN(4000), r.IntN(3000))
			b = phrase(b, 8)
			b = append(b, ` \u263a \ud83d\ude00 😀","n":-1.5e-3}}`+"\n"...)
		}
		if records%1000 == 0 {
			b = fmt.Appendf(b, `{"type":"STATE","value":{"bookmarks":{"users":{"id":%d},"orders":{"id":%d}}}}`+"\n", id, id)
		}
	}
	return b, records
}
