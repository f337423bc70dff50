package project

import "fmt"

// suggest returns what an unknown key (its dotted path, as split) was
// probably meant to be, as " (did you mean …?)", or "": the known name of
// the same table closest to it in spelling, or the table where a known
// key of that name belongs.
func suggest(path []string) string {
	if len(path) == 0 || len(path) > 2 {
		return ""
	}
	name := path[len(path)-1]
	var known []string
	if len(path) == 1 {
		known = Sections()
	} else {
		known = Keys(path[0])
		for _, sec := range Sections() {
			if sec == path[0] {
				continue
			}
			for _, k := range Keys(sec) {
				if k == name {
					return fmt.Sprintf(" (did you mean %s in [%s]?)", k, sec)
				}
			}
		}
	}
	best, bestD := "", maxTypo(name)+1
	for _, k := range known {
		if d := editDistance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// maxTypo is how many edits a name may be from a known one and still be
// taken for a typo of it: one in a short name, two from five letters on
// (flgas → flags is one transposition; a distance of a third of the name
// would call most short keys typos of each other).
func maxTypo(name string) int {
	if len(name) >= 5 {
		return 2
	}
	return 1
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of adjacent
// bytes, each one edit.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
