# The ci-medic image: one statically linked binary in an empty root.
#
# The final image holds /ci-medic and nothing else: no shell, no libc, no CA
# bundle (the TLS roots are compiled into the binary), no USER (container
# actions run as root so they can write to the mounted workspace) and no
# WORKDIR (the runner sets --workdir /github/workspace).
#
# Two ways to build it:
#
#   From source (the default target, what `runs.image: Dockerfile` in
#   action.yml builds on the runner):
#       docker build -t ci-medic .
#
#   From a binary built beforehand (CI and scripts/build-image.sh; the context
#   only needs the static binary, named `ci-medic`, at its root):
#       docker build --target from-binary -f Dockerfile -t ci-medic DIR
#
# The from-binary stage comes first so that a builder which walks every stage
# up to its target never needs the Rust image for it. The default target is the
# last stage; BuildKit (the default builder since Docker 23) builds only the
# stages that target depends on.

# --- from-binary: package a static binary taken from the build context -------
FROM scratch AS from-binary
COPY --chmod=0755 ci-medic /ci-medic
ENTRYPOINT ["/ci-medic"]
CMD ["run"]

# --- build: compile the static binary ----------------------------------------
# rust:1.95 is Debian based, so the target is glibc. `+crt-static` links glibc
# statically (a static-pie executable). A static glibc of 2.34 or later still
# resolves host names from /etc/hosts and from the servers in
# /etc/resolv.conf (the two files Docker puts in every container) without any
# nsswitch.conf or libnss_*.so; scripts/build-image.sh checks this in an empty
# root.
FROM rust:1.95 AS build
WORKDIR /src
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0 \
    RUSTFLAGS="-C target-feature=+crt-static"
COPY . .
# An explicit --target keeps RUSTFLAGS away from build scripts and proc macros,
# which must stay dynamic. The triple follows the build machine (x86_64 on
# GitHub-hosted runners).
RUN set -eu; \
    target="$(uname -m)-unknown-linux-gnu"; \
    cargo build --release --locked --target "$target" --bin ci-medic; \
    cp "target/$target/release/ci-medic" /ci-medic; \
    if readelf -d /ci-medic | grep -q '(NEEDED)'; then \
        echo "ci-medic is not statically linked:" >&2; \
        readelf -d /ci-medic >&2; \
        exit 1; \
    fi; \
    /ci-medic --version

# --- from-source (default): the binary built above in an empty root ----------
FROM scratch AS from-source
COPY --from=build /ci-medic /ci-medic
ENTRYPOINT ["/ci-medic"]
CMD ["run"]
