// Package mddoc reads the project's Markdown documentation (README.md and
// the docs/ tree) for the tests that hold it to the code: the blocks the
// tests run, the headings links point at, the links themselves.
package mddoc

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// Files returns README.md and every .md file under docs/ of the repository
// at root, as paths joined to root, README.md first.
func Files(root string) ([]string, error) {
	files := []string{filepath.Join(root, "README.md")}
	var docs []string
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			docs = append(docs, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(docs)
	return append(files, docs...), nil
}

// Marker is what precedes a fenced block a test runs: the block is the one
// right after "<!-- readme-test: NAME -->".
func Marker(name string) string { return "<!-- readme-test: " + name + " -->" }

// Block returns the body of the fenced block marked NAME (see Marker) and the
// file it is in, wherever in README.md or docs/ it lives. A name must mark
// exactly one block.
func Block(root, name string) (body, file string, err error) {
	files, err := Files(root)
	if err != nil {
		return "", "", err
	}
	var found []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", "", err
		}
		_, after, ok := strings.Cut(string(b), Marker(name)+"\n```")
		if !ok {
			continue
		}
		found = append(found, f)
		_, rest, _ := strings.Cut(after, "\n") // the fence's language
		b2, _, closed := strings.Cut(rest, "```")
		if !closed {
			return "", f, fmt.Errorf("%s: the block marked readme-test: %s is not closed", f, name)
		}
		body, file = b2, f
	}
	switch len(found) {
	case 0:
		return "", "", fmt.Errorf("no block marked readme-test: %s (a %q line right before a fence) in %s", name, Marker(name), strings.Join(files, ", "))
	case 1:
		return body, file, nil
	default:
		return "", "", fmt.Errorf("readme-test: %s marks a block in several files: %s", name, strings.Join(found, ", "))
	}
}

// Prose returns the lines of md (index i is line i+1) with the lines of
// fenced code blocks, fences included, made empty.
func Prose(md string) []string {
	lines := strings.Split(md, "\n")
	fence := ""
	for i, l := range lines {
		t := strings.TrimLeft(l, " ")
		switch {
		case fence == "" && (strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~")):
			fence = t[:3]
			lines[i] = ""
		case fence != "":
			if strings.HasPrefix(t, fence) {
				fence = ""
			}
			lines[i] = ""
		}
	}
	return lines
}

var (
	headingRE    = regexp.MustCompile(`^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
	inlineLinkRE = regexp.MustCompile(`!?\[([^\]]*)\]\(([^)\s]*)(?:\s+"[^"]*")?\)`)
	codeSpanRE   = regexp.MustCompile("`+[^`]*`+")
	htmlIDRE     = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
	schemeRE     = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// Anchors returns the anchors GitHub gives the headings of md (and the
// ids of <a id="..."> elements), as a link's fragment names them.
func Anchors(md string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, l := range Prose(md) {
		for _, m := range htmlIDRE.FindAllStringSubmatch(l, -1) {
			out[m[1]] = true
		}
		m := headingRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		slug := Slug(m[2])
		// GitHub numbers repeated headings: x, x-1, x-2.
		a := slug
		if n := seen[slug]; n > 0 {
			a = fmt.Sprintf("%s-%d", slug, n)
		}
		seen[slug]++
		out[a] = true
	}
	return out
}

// Slug is GitHub's anchor of a heading's text: the rendered text (code
// spans and links reduced to their text), lower-cased, with every character
// but letters, digits, '-', '_' and spaces dropped and each space made '-'.
func Slug(heading string) string {
	text := inlineLinkRE.ReplaceAllString(heading, "$1")
	text = strings.ReplaceAll(text, "`", "")
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(text)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Link is a link of a Markdown file to a file or an anchor.
type Link struct {
	Line   int    // 1-based
	Target string // as written: path, path#anchor or #anchor
}

// Links returns the inline links of md outside code (fenced blocks and code
// spans) that name no scheme: the relative links a checker can follow.
func Links(md string) []Link {
	var out []Link
	for i, l := range Prose(md) {
		l = codeSpanRE.ReplaceAllString(l, "")
		for _, m := range inlineLinkRE.FindAllStringSubmatch(l, -1) {
			t := strings.Trim(m[2], "<>")
			if t == "" || schemeRE.MatchString(t) {
				continue
			}
			out = append(out, Link{Line: i + 1, Target: t})
		}
	}
	return out
}

// CheckLinks returns a problem for each relative link of the Markdown file
// at path that names no existing file or directory inside root, or an
// anchor that no heading of the target has.
func CheckLinks(root, path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	var problems []string
	for _, l := range Links(string(b)) {
		where := fmt.Sprintf("%s:%d: link %q", path, l.Line, l.Target)
		file, anchor, _ := strings.Cut(l.Target, "#")
		target := path
		if file != "" {
			target = filepath.Join(filepath.Dir(path), filepath.FromSlash(file))
		}
		abs, err := filepath.Abs(target)
		if err != nil {
			return nil, err
		}
		if rel, err := filepath.Rel(absRoot, abs); err != nil || strings.HasPrefix(rel, "..") {
			problems = append(problems, where+": points outside the repository")
			continue
		}
		st, err := os.Stat(target)
		if err != nil {
			problems = append(problems, where+": no such file or directory")
			continue
		}
		if anchor == "" {
			continue
		}
		if st.IsDir() || !strings.HasSuffix(target, ".md") {
			problems = append(problems, where+": an anchor into something that is not a Markdown file")
			continue
		}
		tb, err := os.ReadFile(target)
		if err != nil {
			return nil, err
		}
		if !Anchors(string(tb))[anchor] {
			problems = append(problems, fmt.Sprintf("%s: %s has no heading with the anchor #%s", where, target, anchor))
		}
	}
	return problems, nil
}
