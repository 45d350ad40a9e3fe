# tidewatch's image: one static binary, CA roots and time zones, nothing else (FROM scratch).
#
#   Release, multi-arch (needs the internet and buildx; see .github/workflows/release.yml):
#     docker buildx build --platform linux/amd64,linux/arm64,linux/arm/v7 -t tidewatch .
#   Here, from a binary built on the host (no pull, the legacy builder is enough):
#     scripts/image            # builds the binary, then `docker build --target local`
#
# Both end in the same `base` stage below, which holds everything but the files: the labels,
# the store volume, the health check and the entrypoint. `local` adds the files scripts/image
# assembled; the last stage adds the same files cross-compiled in `build`. The legacy builder
# stops at `--target local` and never reaches `build`; BuildKit skips `local` when building the
# last stage.
#
#   docker run -d --name tidewatch -v /var/run/docker.sock:/var/run/docker.sock \
#     -v tidewatch:/store tidewatch

FROM scratch AS base
ARG VERSION=dev
ARG REVISION=unknown
# tidewatch.watch: tidewatch watches (and, with the docker trigger, updates) its own container
# even where watching is opt-in (watchbydefault=false); a container label tidewatch.watch=false
# wins. The health check relies on it: the container's own check stamps the store every cycle.
LABEL org.opencontainers.image.title="tidewatch" \
      org.opencontainers.image.description="Keeps Docker containers current: watches registries for newer images, notifies, and updates in place safely." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/tidewatch/tidewatch" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      tidewatch.watch="true"
# The store is a folder (tidewatch.db inside); a named volume keeps it across updates.
ENV TIDEWATCH_STORE_PATH=/store
# Cron schedules run in TZ; -e TZ=Europe/Paris reads /usr/share/zoneinfo, which the image has.
ENV TZ=UTC
VOLUME ["/store"]
# `tidewatch health` asks the store whether the daemon beside it still checks on schedule. The
# first probe comes one interval after the start, and a self-update's health gate waits 60 s
# by default (healthtimeout) for the successor to turn healthy: the interval must stay well
# below that. The start period covers the first cycle over a large host.
HEALTHCHECK --interval=15s --timeout=10s --start-period=1m --retries=3 CMD ["/tidewatch", "health"]
# The page and the API (WUD's port); Watchtower's API variables move it to 8080.
EXPOSE 3000
ENTRYPOINT ["/tidewatch"]
CMD ["run"]

# Files from scripts/image (context: target/image-context): tidewatch, the CA bundle, zoneinfo,
# /store and /tmp (mode 1777, so any --user can write the store the socket lets it use).
FROM base AS local
COPY rootfs/ /

# Cross-compiled on the build machine's own platform (no emulation): musl, statically linked,
# through zig's linker (cargo-zigbuild), for the platform buildx asks for.
FROM --platform=$BUILDPLATFORM rust:1.95-bookworm AS build
ARG TARGETPLATFORM
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata python3-pip \
 && pip3 install --break-system-packages ziglang==0.13.0 cargo-zigbuild==0.19.8 \
 && rm -rf /var/lib/apt/lists/*
RUN case "$TARGETPLATFORM" in \
      linux/amd64) echo x86_64-unknown-linux-musl ;; \
      linux/arm64) echo aarch64-unknown-linux-musl ;; \
      linux/arm/v7) echo armv7-unknown-linux-musleabihf ;; \
      *) echo "unsupported platform $TARGETPLATFORM" >&2; exit 1 ;; \
    esac > /rust-target \
 && rustup target add "$(cat /rust-target)"
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY tests ./tests
# The default message templates are compiled into the binary.
COPY triggers ./triggers
COPY scripts/image ./scripts/image
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,id=target-$TARGETPLATFORM \
    TIDEWATCH_IMAGE_BUILD="cargo zigbuild" TIDEWATCH_IMAGE_TARGET="$(cat /rust-target)" \
    scripts/image --rootfs-only \
 && cp -a target/image-context/rootfs /rootfs

FROM base
COPY --from=build /rootfs/ /
