# Sourced by the other scripts: PATH and toolchain selection. Not a command.
export PATH="$HOME/.cargo/bin:$PATH"
# When rustup cannot add wasm32 to its own toolchain, setup links Debian's Rust as "web".
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
   && rustup toolchain list 2>/dev/null | grep -q '^web'; then
  export RUSTUP_TOOLCHAIN=web
fi
# The release package's size build (pkg-scripts/build) rebuilds the standard library for size with
# -Zbuild-std, an unstable cargo flag: it runs only on this toolchain, the one it was measured and
# tested with. Without it (or with OFFLINE_IM_BUILD_STD=0) the build uses the shipped std.
export BUILD_STD_TOOLCHAIN=1.95.0
export CHROMEDRIVER_BIN=/usr/bin/chromedriver
export GECKODRIVER_BIN="$HOME/.cargo/bin/geckodriver"
export WASM_OPT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/js/node_modules/.bin/wasm-opt"
# wasm-opt must accept what rustc emits for wasm32 (used by build and bench).
wasm_opt_features=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals
                   --enable-reference-types --enable-multivalue)
# The release wasm's wasm-opt pass (build, and bench's size floor): -O2 with one-caller inlining
# limited to small functions (-ocimfs 20: otherwise every function with one caller, however big,
# is inlined into the huge async bodies, which compresses worse; with -Oz, 238,716 -> 214,974 B
# gzip for the wasm on 2026-11-28), and no producers or target-features sections (tool names and
# feature flags no browser reads). Measured on 2026-11-29 on the wasm, gzip -9 / brotli 11:
# -Oz 192,212 / 159,942; -Oz stripped 192,020; -Os 191,381; -O2 191,162 / 159,250 (-O3 192,344,
# -O4 192,793, -O1 195,511; -ocimfs 10 or 30 within 0.4 KB). Envelope and flush speed: the same
# as with -Oz within the noise (README, Size).
wasm_opt_release=(-O2 -ocimfs 20 --strip-producers --strip-target-features)
