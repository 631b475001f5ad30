package config

import (
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// lineIndex finds where tables and keys are in the source text, so errors
// the TOML decoder reports without a position still name file:line.
type lineIndex struct {
	lines []string
}

func newLineIndex(text string) *lineIndex { return &lineIndex{lines: strings.Split(text, "\n")} }

// header returns the table name a line opens ("ca" for [[ca]], "daemon.httpreq"
// for [daemon.httpreq]) and whether it is an array table.
func header(line string) (string, bool, bool) {
	s := strings.TrimSpace(line)
	if i := strings.Index(s, "#"); i >= 0 && !strings.Contains(s[:i], "\"") {
		s = strings.TrimSpace(s[:i])
	}
	if strings.HasPrefix(s, "[[") && strings.HasSuffix(s, "]]") {
		return strings.TrimSpace(s[2 : len(s)-2]), true, true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return strings.TrimSpace(s[1 : len(s)-1]), false, true
	}
	return "", false, false
}

// tableLine returns the line of the n-th (0-based) [[name]] header.
func (x *lineIndex) tableLine(name string, n int) int {
	for i, l := range x.lines {
		if h, arr, ok := header(l); ok && arr && h == name {
			if n == 0 {
				return i + 1
			}
			n--
		}
	}
	return 0
}

// keyLine returns the first line that defines key k (the last element of k,
// inside a table whose name is the rest of k).
func (x *lineIndex) keyLine(k toml.Key) int {
	if len(k) == 0 {
		return 0
	}
	table := strings.Join(k[:len(k)-1], ".")
	last := k[len(k)-1]
	cur := ""
	for i, l := range x.lines {
		if h, _, ok := header(l); ok {
			cur = h
			if cur == strings.Join(k, ".") {
				return i + 1 // an unknown table
			}
			continue
		}
		s := strings.TrimSpace(l)
		eq := strings.Index(s, "=")
		if eq <= 0 {
			continue
		}
		key := strings.Trim(strings.TrimSpace(s[:eq]), `"'`)
		full := key
		if cur != "" {
			full = cur + "." + key
		}
		if full == strings.Join(k, ".") || (cur == table && key == last) {
			return i + 1
		}
	}
	return 0
}

func sortStrings(s []string) { slices.Sort(s) }
