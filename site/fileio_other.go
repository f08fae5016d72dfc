//go:build !unix

package site

import "os"

func writeFile(name string, data []byte) error { return os.WriteFile(name, data, 0o644) }

func readFile(name string) ([]byte, error) { return os.ReadFile(name) }
