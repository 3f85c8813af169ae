# syntax=docker/dockerfile:1
# Multi-stage build: a static binary (CGO_ENABLED=0; modernc.org/sqlite is
# pure Go) on distroless, as a non-root user.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/nuttx-feed/nuttx-feed/server.Version=${VERSION}" \
      -o /out/nuttx-feed . \
 && mkdir -p /out/data

# distroless/static has CA certificates and tzdata, no shell; "nonroot" is uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/nuttx-feed /usr/local/bin/nuttx-feed
COPY --from=build --chown=65532:65532 /out/data /data
ENV NUTTX_FEED_LISTEN=0.0.0.0:8080 \
    NUTTX_FEED_DATA=/data
VOLUME ["/data"]
EXPOSE 8080
USER 65532:65532
# No curl on distroless: the binary asks its own /health (the database takes
# a write, the feed polled lately) on NUTTX_FEED_LISTEN.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/nuttx-feed", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/nuttx-feed"]
CMD ["serve"]
