package nodescripts

import (
	"path"
	"strings"
)

// EntryKind is the kind of a file below a tree the node extracts
// (/opt/lib/modules/<kernel>/ or the firmware directory of an image), as
// find(1)'s %y names it in lib.sh.
type EntryKind string

// The kinds an image's file system can hold.
const (
	KindFile    EntryKind = "file"
	KindDir     EntryKind = "dir"
	KindSymlink EntryKind = "symlink"
	KindChar    EntryKind = "char"
	KindBlock   EntryKind = "block"
	KindFIFO    EntryKind = "fifo"
	KindSocket  EntryKind = "socket"
)

// SymlinkLeaves says why a symlink at rel (below its tree's root) pointing
// to target leaves the tree, or "" when it stays inside: an absolute target
// (the tree moves to the node's state directory, where "/" is the host's
// root) or a relative one that climbs above the root.
func SymlinkLeaves(rel, target string) string {
	if strings.HasPrefix(target, "/") {
		return "absolute: the tree moves on the node"
	}
	p := path.Clean(path.Join(path.Dir(rel), target))
	if p == ".." || strings.HasPrefix(p, "../") {
		return "points outside the tree"
	}
	return ""
}

// TreeEntryRefused says why the node's extraction refuses an entry at rel
// of that kind (link: a symlink's target), or "" when it copies it: regular
// files, directories and symlinks that stay inside the tree only.
//
// lib.sh's tree_entry_refused is the node's copy of this rule; both are
// tested against testdata/tree-entries.tsv, and `day1kmod verify` checks
// images with it.
func TreeEntryRefused(rel string, kind EntryKind, link string) string {
	switch kind {
	case KindFile, KindDir:
		return ""
	case KindSymlink:
		return SymlinkLeaves(rel, link)
	case KindChar:
		return "a character device"
	case KindBlock:
		return "a block device"
	case KindFIFO:
		return "a FIFO"
	case KindSocket:
		return "a socket"
	}
	return "not a regular file, directory or symlink"
}

// ChainLeaves says whether the symlink at rel, followed as the kernel
// would through the other symlinks of its tree (links: each symlink's path
// below the root -> its target), ends outside the tree, although each link
// alone stays inside by SymlinkLeaves: a/up -> .. and b -> a/up/.. lead
// out. The node finds the same with realpath(1) (lib.sh: scan_tree); an
// endless loop of links counts as leaving.
func ChainLeaves(links map[string]string, rel string) bool {
	dir := strings.Split(path.Dir(rel), "/")
	if path.Dir(rel) == "." {
		dir = nil
	}
	todo := strings.Split(links[rel], "/")
	for hops := 0; len(todo) > 0; {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(dir) == 0 {
				return true
			}
			dir = dir[:len(dir)-1]
			continue
		}
		p := strings.Join(append(append([]string{}, dir...), c), "/")
		target, isLink := links[p]
		if !isLink {
			dir = append(dir, c)
			continue
		}
		if hops++; hops > 40 || strings.HasPrefix(target, "/") {
			return true
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return false
}
