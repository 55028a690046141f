# Build: docker build -t seqops .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY benches benches
RUN cargo build --release --locked --bin seqops

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/seqops /usr/local/bin/seqops
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/seqops"]
CMD ["controller"]
