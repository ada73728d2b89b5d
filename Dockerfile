# syntax=docker/dockerfile:1

# Build stage: a static binary, built for the target platform from the
# builder's own platform (no emulation needed for multi-arch images).
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src

# Dependencies first, so that a change to the code alone reuses this layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY . .
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /lethe .

# Final stage: no shell, no package manager; CA certificates for TLS to
# PostgreSQL, S3 and the Pushgateway; runs as the non-root uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="lethe" \
      org.opencontainers.image.description="GDPR erasure and retention jobs for PostgreSQL" \
      org.opencontainers.image.source="https://github.com/lethe-project/lethe" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=build /lethe /lethe
USER 65532:65532
ENTRYPOINT ["/lethe"]
