package forecast

import "math"

// Component is one part of the predictive distribution of the next run's
// log peak: Weight x Student-t(DF) located at Mu with scale Scale.
type Component struct {
	Name   string  `json:"name"`
	Weight float64 `json:"weight"`
	Mu     float64 `json:"mu"`
	Scale  float64 `json:"scale"`
	DF     float64 `json:"df"`
}

// Model is the predictive distribution of the next run's peak: a mixture of
// log-t components (ordinary runs, spikes, a level change that may have
// begun, a periodic run due now). Median is the ordinary level in bytes, the
// unit of the kill price.
type Model struct {
	Components []Component `json:"components"`
	Median     float64     `json:"median_bytes"`
}

// survival is P(peak > x bytes).
func (m Model) survival(x float64) float64 {
	if x <= 0 {
		return 1
	}
	lx := math.Log(x)
	s, total := 0.0, 0.0
	for _, c := range m.Components {
		total += c.Weight
		s += c.Weight * tSurvival((lx-c.Mu)/c.Scale, c.DF)
	}
	if total <= 0 {
		return 0
	}
	return s / total
}

// span is the log range the limit is searched over: from the median of the
// lowest component to its 1-1e-6 quantile of the highest.
func (m Model) span() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, c := range m.Components {
		if c.Weight <= 1e-9 {
			continue
		}
		lo = min(lo, c.Mu)
		hi = max(hi, c.Mu+tQuantileUpper(1e-6, c.DF)*c.Scale)
	}
	return lo, hi
}

// tSurvival is P(T > t) for Student's t with df degrees of freedom (the
// normal for df >= 200 or df <= 0).
func tSurvival(t, df float64) float64 {
	if df <= 0 || df >= 200 {
		return 0.5 * math.Erfc(t/math.Sqrt2)
	}
	x := df / (df + t*t)
	tail := 0.5 * regIncBeta(df/2, 0.5, x)
	if t < 0 {
		return 1 - tail
	}
	return tail
}

// tQuantileUpper is the t with P(T > t) = p (bisection on tSurvival).
func tQuantileUpper(p, df float64) float64 {
	lo, hi := -1e3, 1e3
	for range 80 {
		mid := (lo + hi) / 2
		if tSurvival(mid, df) > p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// regIncBeta is the regularised incomplete beta function I_x(a, b)
// (continued fraction, Numerical Recipes 6.4).
func regIncBeta(a, b, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	la, _ := math.Lgamma(a + b)
	lb, _ := math.Lgamma(a)
	lc, _ := math.Lgamma(b)
	front := math.Exp(la - lb - lc + a*math.Log(x) + b*math.Log(1-x))
	if x < (a+1)/(a+b+2) {
		return front * betaCF(a, b, x) / a
	}
	return 1 - front*betaCF(b, a, 1-x)/b
}

func betaCF(a, b, x float64) float64 {
	const tiny = 1e-300
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= 200; m++ {
		m2 := float64(2 * m)
		fm := float64(m)
		aa := fm * (b - fm) * x / ((qam + m2) * (a + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		aa = -(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 3e-10 {
			break
		}
	}
	return h
}

// sums are the decayed weighted sums of one segment's ordinary runs: log
// peak y against time x (days since the segment began). Decaying multiplies
// every sum by the same factor (sw2 by its square), so a segment's figures
// are always relative to the newest run seen.
type sums struct {
	sw, sw2, sx, sxx, sy, sxy, syy float64
}

func (s *sums) add(x, y, w float64) {
	s.sw += w
	s.sw2 += w * w
	s.sx += w * x
	s.sxx += w * x * x
	s.sy += w * y
	s.sxy += w * x * y
	s.syy += w * y * y
}

func (s *sums) decay(f float64) {
	s.sw *= f
	s.sw2 *= f * f
	s.sx *= f
	s.sxx *= f
	s.sy *= f
	s.sxy *= f
	s.syy *= f
}

// neff is the effective number of runs, (sum w)^2 / sum w^2.
func (s sums) neff() float64 {
	if s.sw2 <= 0 {
		return 0
	}
	return s.sw * s.sw / s.sw2
}

// line is the segment's fit: level at mean time xbar, slope per day (0
// unless the trend is significant), residual sum of squares (weighted) and
// the number of parameters fitted.
type line struct {
	xbar, ybar, slope, varx, rss float64
	k                            float64
}

// fit returns the segment's line: the weighted mean, or a weighted least
// squares line when trend is allowed and the slope is positive and at least
// twice its standard error under spread s.
func (s sums) fit(trend bool, minRuns, spread float64) line {
	if s.sw <= 0 {
		return line{}
	}
	l := line{xbar: s.sx / s.sw, ybar: s.sy / s.sw, k: 1}
	sxx := s.sxx - s.sx*s.sx/s.sw
	sxy := s.sxy - s.sx*s.sy/s.sw
	syy := s.syy - s.sy*s.sy/s.sw
	l.varx = max(sxx/s.sw, 0)
	l.rss = max(syy, 0)
	n := s.neff()
	if trend && n >= max(minRuns, 3) && l.varx >= 0.25 && sxx > 0 {
		b := sxy / sxx
		// sxx is a weighted sum; its effective size is n x varx.
		if se := spread / math.Sqrt(n*l.varx); b > 0 && b >= 2*se {
			l.slope, l.k = b, 2
			l.rss = max(syy-b*sxy, 0)
		}
	}
	return l
}

// at is the line's level at x and the variance factor of that estimate
// in units of the spread squared (1/n, plus the slope's share).
func (l line) at(x, n float64) (mu, vfac float64) {
	mu = l.ybar + l.slope*(x-l.xbar)
	if n <= 0 {
		return mu, 1
	}
	vfac = 1 / n
	if l.k == 2 && l.varx > 0 {
		d := x - l.xbar
		vfac += d * d / (n * l.varx)
	}
	return mu, vfac
}
