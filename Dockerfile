# tidewatch image: one static-ish binary on a minimal base.
#   docker build -t tidewatch .
#   docker run -d -v /var/run/docker.sock:/var/run/docker.sock tidewatch check
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked && strip target/release/tidewatch

FROM gcr.io/distroless/cc-debian12
COPY --from=build /src/target/release/tidewatch /tidewatch
COPY triggers /triggers
COPY config /config
VOLUME ["/store"]
ENTRYPOINT ["/tidewatch"]
CMD ["check"]
