# bench/salt.sh — sourced by the build benchmarks: edits that no cache can
# have seen. Every generated source carries a `<number>u; /* jm-edit */`
# marker; bump_salt FILE sets it to a number never used before in this run
# (in $SALT), set_salt FILE N to a given one (the same edit in another
# tool's copy). The caller defines die.
SALT=0
set_salt() { # file number
	sed -i -E "s|[0-9]+u; /\* jm-edit \*/|${2}u; /* jm-edit */|" "$1"
	grep -q "${2}u; /\* jm-edit \*/" "$1" || die "no jm-edit marker in $1"
}
bump_salt() { # file
	SALT=$((SALT + 1))
	set_salt "$1" "$SALT"
}
