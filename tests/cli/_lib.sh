# Shared by the tests/cli/*.sh scripts (sourced, not run).
# Environment: ENDPOINT (http:// or https://), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_DEFAULT_REGION; optional CA_BUNDLE (PEM) for HTTPS.

: "${ENDPOINT:?ENDPOINT must be set}"
: "${AWS_ACCESS_KEY_ID:?}" "${AWS_SECRET_ACCESS_KEY:?}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

AWS_ARGS=(--endpoint-url "$ENDPOINT")
if [[ -n "${CA_BUNDLE:-}" ]]; then
  AWS_ARGS+=(--ca-bundle "$CA_BUNDLE")
fi

awsc() { aws "${AWS_ARGS[@]}" "$@"; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# A bucket name unique to this run: scripts can share a server.
unique_bucket() { echo "$1-$(date +%s)-$RANDOM"; }

# A directory tree with nested dirs, empty, small and multi-chunk files, odd names.
make_tree() {
  local root="$1"
  mkdir -p "$root/a/b/c" "$root/empty-dir-sibling" "$root/sp ace"
  : > "$root/empty.txt"
  printf 'hello\n' > "$root/a/hello.txt"
  head -c 70000 /dev/urandom > "$root/a/b/seventy-k.bin"
  head -c 1048577 /dev/urandom > "$root/a/b/c/one-mib-plus.bin"
  printf 'odd\n' > "$root/sp ace/we+ird=name&.txt"
  head -c 3000000 /dev/urandom > "$root/three-mb.bin"
}

# The base64 flexible checksum of a file, computed here (awscrt ships with botocore[crt]).
checksum_of() {
  python3 - "$1" "$2" <<'PY'
import base64, hashlib, sys, zlib
alg, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
if alg == "CRC32":
    raw = zlib.crc32(data).to_bytes(4, "big")
elif alg == "CRC32C":
    from awscrt import checksums
    raw = checksums.crc32c(data).to_bytes(4, "big")
elif alg == "CRC64NVME":
    from awscrt import checksums
    raw = checksums.crc64nvme(data).to_bytes(8, "big")
elif alg == "SHA1":
    raw = hashlib.sha1(data).digest()
else:
    raw = hashlib.sha256(data).digest()
print(base64.b64encode(raw).decode())
PY
}

fail() { echo "FAIL: $*" >&2; exit 1; }

# Same regular files (names and bytes) under two directories.
same_files() {
  ( cd "$1" && find . -type f | sort ) > "$WORK/.a.lst"
  ( cd "$2" && find . -type f | sort ) > "$WORK/.b.lst"
  diff "$WORK/.a.lst" "$WORK/.b.lst" || fail "file lists differ: $1 $2"
  while IFS= read -r f; do
    cmp "$1/$f" "$2/$f" || fail "$f differs"
  done < "$WORK/.a.lst"
}
