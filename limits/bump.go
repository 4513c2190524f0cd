package limits

const (
	mib = int64(1) << 20
	gib = int64(1) << 30

	// BumpHeadroom and BumpFactor are the Kubernetes VPA recommender's OOM
	// bump: the next limit is at least peak+100MiB and at least 1.2x peak.
	BumpHeadroom = 100 * mib
	BumpFactor   = 1.2
)

// OOMBump returns the limit to use after a run peaked at peak bytes and was
// OOM-killed: max(peak+100MiB, 1.2*peak), rounded up to a tidy size.
func OOMBump(peak int64) int64 {
	if peak < 0 {
		peak = 0
	}
	want := peak + BumpHeadroom
	if f := int64(float64(peak) * BumpFactor); f > want {
		want = f
	}
	return RoundUpTidy(want)
}

// RoundUpTidy rounds n up to a size a person would write in a flag: a
// multiple of 16 MiB below 1 GiB, of 64 MiB below 8 GiB, of 256 MiB above.
func RoundUpTidy(n int64) int64 {
	step := 16 * mib
	switch {
	case n >= 8*gib:
		step = 256 * mib
	case n >= gib:
		step = 64 * mib
	}
	if n <= 0 {
		return step
	}
	return (n + step - 1) / step * step
}
