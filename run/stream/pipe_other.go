//go:build !linux

package stream

import "io"

func growPipe(io.Reader) {}
