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
