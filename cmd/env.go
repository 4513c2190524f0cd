package cmd

import (
	"bufio"
	"fmt"
	"strings"

	"syncbox/run/container"
	"syncbox/run/hostfs"
)

// baseEnv is what every connector gets; nothing else of the runner's
// environment leaks in (a cron job's secrets stay with the cron job).
func baseEnv() []string {
	return []string{"PATH=" + container.DefaultPath, "LANG=C.UTF-8", "HOME=/tmp"}
}

// buildEnv applies --env-file files, then --env values (later wins).
// "--env K" passes K through from the runner's environment if it is set.
func buildEnv(envFlags, envFiles []string, lookup func(string) (string, bool)) ([]string, error) {
	vars := map[string]string{}
	order := []string{}
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	for _, kv := range baseEnv() {
		k, v, _ := strings.Cut(kv, "=")
		set(k, v)
	}
	for _, f := range envFiles {
		if err := readEnvFile(f, set); err != nil {
			return nil, err
		}
	}
	for _, e := range envFlags {
		k, v, hasValue := strings.Cut(e, "=")
		if err := checkEnvName(k); err != nil {
			return nil, fmt.Errorf("--env %q: %w", e, err)
		}
		if !hasValue {
			val, ok := lookup(k)
			if !ok {
				continue // passing through an unset variable sets nothing
			}
			v = val
		}
		set(k, v)
	}
	env := make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+vars[k])
	}
	return env, nil
}

func readEnvFile(path string, set func(k, v string)) error {
	// By the path rule: its content becomes the tenant's environment, so a
	// link the tenant planted must not make root read another file for it,
	// and a FIFO must not hang the runner.
	f, err := hostfs.Open(path)
	if err != nil {
		return fmt.Errorf("--env-file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("--env-file %s:%d: expected KEY=VALUE, got %q", path, n, truncate(line, 60))
		}
		k = strings.TrimSpace(k)
		if err := checkEnvName(k); err != nil {
			return fmt.Errorf("--env-file %s:%d: %w", path, n, err)
		}
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		set(k, v)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("--env-file %s: %w", path, err)
	}
	return nil
}

func checkEnvName(k string) error {
	if k == "" {
		return fmt.Errorf("empty variable name")
	}
	for i, r := range k {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return fmt.Errorf("invalid variable name %q", k)
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
