// Command tap-demo is a bundled Singer tap for demos and tests: it prints
// SCHEMA, RECORD and STATE messages for three streams, with nested values,
// escapes and non-ASCII text, and optionally one giant field value.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	records := flag.Int("records", 1000, "records per stream")
	stateEvery := flag.Int("state-every", 250, "emit a STATE bookmark after this many records of a stream")
	giant := flag.Int("giant-bytes", 200000, "size of one oversized notes value in stream orders (0 = none)")
	state := flag.String("state", "", "resume from this Singer state file ({\"bookmarks\":{stream:{\"id\":N}}})")
	flag.Parse()

	start := map[string]int{}
	if *state != "" {
		b, err := os.ReadFile(*state)
		if err != nil {
			fmt.Fprintln(os.Stderr, "tap-demo:", err)
			os.Exit(1)
		}
		var st struct {
			Bookmarks map[string]struct{ ID int } `json:"bookmarks"`
		}
		if err := json.Unmarshal(b, &st); err != nil {
			fmt.Fprintln(os.Stderr, "tap-demo: bad state:", err)
			os.Exit(1)
		}
		for k, v := range st.Bookmarks {
			start[k] = v.ID
		}
	}
	w := bufio.NewWriterSize(os.Stdout, 64<<10)
	defer w.Flush()
	bookmarks := map[string]int{}
	for k, v := range start {
		bookmarks[k] = v
	}
	emitState := func() {
		b, _ := json.Marshal(map[string]any{"type": "STATE", "value": map[string]any{"bookmarks": toIDs(bookmarks)}})
		w.Write(b)
		w.WriteByte('\n')
	}
	streams := []string{"users", "orders", "events"}
	for _, s := range streams {
		fmt.Fprintf(w, `{"type":"SCHEMA","stream":%q,"schema":{"type":"object","properties":{"id":{"type":"integer"}}},"key_properties":["id"]}`+"\n", s)
	}
	cities := []string{"Zürich", "São Paulo", "Kraków", "東京", "Reykjavík"}
	for i := 1; i <= *records; i++ {
		for _, s := range streams {
			if i <= start[s] {
				continue
			}
			switch s {
			case "users":
				fmt.Fprintf(w, `{"type":"RECORD","stream":"users","record":{"id":%d,"name":"user %d","email":"u%d@example.com","city":%q,"tags":["a","b\"quoted\""],"score":%d.5}}`+"\n",
					i, i, i, cities[i%len(cities)], i%100)
			case "orders":
				notes := "deliver to the back door\\nring twice"
				if *giant > 0 && i == *records/2 {
					notes = strings.Repeat("x", *giant)
				}
				fmt.Fprintf(w, `{"type":"RECORD","stream":"orders","record":{"id":%d,"user_id":%d,"total":%d.99,"items":[{"sku":"A-%d","qty":2},{"sku":"B-%d","qty":1}],"notes":"%s"}}`+"\n",
					i, i%50+1, i%300, i, i, notes)
			case "events":
				fmt.Fprintf(w, `{"type":"RECORD","stream":"events","record":{"id":%d,"kind":"click","at":"2026-11-21T05:%02d:%02dZ","payload":{"path":"/p/%d","ok":true,"ms":null}}}`+"\n",
					i, i/60%60, i%60, i)
			}
			bookmarks[s] = i
		}
		if i%*stateEvery == 0 {
			emitState()
		}
	}
	emitState()
}

func toIDs(m map[string]int) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = map[string]int{"id": v}
	}
	return out
}
