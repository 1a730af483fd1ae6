# Sourced by the launcher benchmarks (bench-launcher.sh, bench-faults.sh):
# the shared set-up.  Sets lib, rcshim (from $dir, the build directory),
# work (a scratch directory under the temp root, with empty.so: a preloaded
# library with one empty function, the floor of any preload) and outside
# (a directory in the build tree, outside the temp roots, for the git
# repository and the build, as a user's would be); both removed at exit.
#   . scripts/bench/tree.sh NAME     (after dir= is set)
lib=$(realpath "$dir/src/librcshim.so")
rcshim=$(realpath "$dir/src/rcshim")
work=$(mktemp -d "${TMPDIR:-/tmp}/rcshim-$1.XXXXXX")
outside=$(realpath "$dir")/$1
rm -rf "$outside"
mkdir -p "$outside"
trap 'rm -rf "$work" "$outside"' EXIT

cat >"$work/empty.c" <<'C'
void rcshim_bench_empty(void) {}
C
cc -shared -fPIC -O2 -o "$work/empty.so" "$work/empty.c"

# A fresh repository for commits: REPO
bench_git_repo() {
	rm -rf "$1"
	git init -q "$1"
	git -C "$1" config user.name bench
	git -C "$1" config user.email bench@example.invalid
	git -C "$1" config gc.auto 0
}
