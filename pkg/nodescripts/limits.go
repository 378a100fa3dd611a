package nodescripts

// MaxTreeBytes bounds what the node extracts for one kernel: the files of
// /opt/lib/modules/<kernel>/ and of the firmware directory together. The
// node's extraction enforces it (an image holding more is refused, not
// half-copied), and `day1kmod verify` checks images against the same bound.
// 2 GiB is far above any driver's modules and firmware (the largest, GPU
// drivers with their firmware, are a few hundred MiB) while keeping a
// runaway image (a whole kernel tree, a build directory) from filling /var
// on every node of the pool.
const MaxTreeBytes int64 = 2 << 30
