# syntax=docker/dockerfile:1

# Build a static binary: -tags nodev leaves out the development tools (demo, dev,
# bench), whose embedded ClickHouse loader would link the C library.
# cmd/sluice/image_test.go builds it with this very line and runs it in an empty
# root. The module asks for Go 1.26.8; an older 1.26 image fetches that toolchain
# itself (GOTOOLCHAIN=auto).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -tags nodev -trimpath -ldflags="-s -w" -o /out/sluice ./cmd/sluice

# Run it on distroless: no shell, no package manager, a non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sluice /sluice
# In a container the admin listener must be reachable from outside it.
ENV SLUICE_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/sluice"]
CMD ["run"]
