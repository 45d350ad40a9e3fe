# tidewatch image: one static-ish binary on a minimal base.
#   docker build -t tidewatch .
#   docker run -d -v /var/run/docker.sock:/var/run/docker.sock -v tidewatch:/store tidewatch
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
# The default message templates are compiled into the binary.
COPY triggers ./triggers
RUN cargo build --release --locked && strip target/release/tidewatch

FROM gcr.io/distroless/cc-debian12
COPY --from=build /src/target/release/tidewatch /tidewatch
COPY triggers /triggers
COPY config /config
ENV TIDEWATCH_STORE_PATH=/store
VOLUME ["/store"]
# The page and the API (WUD's port); Watchtower's API variables move it to 8080.
EXPOSE 3000
ENTRYPOINT ["/tidewatch"]
CMD ["run"]
