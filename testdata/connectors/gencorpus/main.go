// Command gencorpus writes the benchmark corpus (testdata/corpus) of about
// --mb MiB to stdout: realistic Singer records of about 400-500 bytes.
package main

import (
	"flag"
	"fmt"
	"os"

	"syncbox/testdata/corpus"
)

func main() {
	mb := flag.Int("mb", 256, "corpus size in MiB")
	flag.Parse()
	b, n := corpus.Singer(*mb << 20)
	if _, err := os.Stdout.Write(b); err != nil {
		fmt.Fprintln(os.Stderr, "gencorpus:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "gencorpus: %d bytes, %d records\n", len(b), n)
}
