package stream

import "math/rand/v2"

// mutate breaks v in one to three places with bytes the grammar cares about.
func mutate(r *rand.Rand, v []byte) []byte {
	const alphabet = "{}[]:,\" \t\n\\01-.eE+tnulfasr\x01\x1f\x7f\x80"
	for range 1 + r.IntN(3) {
		if len(v) < 2 {
			break
		}
		k := 1 + r.IntN(len(v)-1)
		switch r.IntN(5) {
		case 0:
			v[k] = alphabet[r.IntN(len(alphabet))]
		case 1:
			v = append(v[:k], v[k+1:]...)
		case 2:
			v = append(v[:k+1], v[k:]...)
		case 3:
			v = v[:k]
		case 4:
			v = append(v[:k], append([]byte{alphabet[r.IntN(len(alphabet))]}, v[k:]...)...)
		}
	}
	return v
}
