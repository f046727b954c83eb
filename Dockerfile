# syntax=docker/dockerfile:1
# Multi-stage build of both binaries: static (CGO_ENABLED=0; SQLite is pure Go), non-root, small.
#   docker build -t gophermart .                      # gophermart (default target)
#   docker build -t gophermart-accrual --target accrual .
#   docker run gophermart migrate up                  # ENTRYPOINT is the binary
# Without ACCRUAL_SYSTEM_ADDRESS the gophermart image runs the built-in accrual service on the
# container's loopback only: publish the standalone accrual image instead (docker-compose.yml).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/gophermart ./cmd/gophermart \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/accrual ./cmd/accrual \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot AS accrual
COPY --from=build /out/accrual /accrual
ENV RUN_ADDRESS=0.0.0.0:8081
EXPOSE 8081
USER nonroot:nonroot
ENTRYPOINT ["/accrual"]

FROM gcr.io/distroless/static-debian12:nonroot AS gophermart
COPY --from=build /out/gophermart /gophermart
COPY --from=build --chown=nonroot:nonroot /out/data /data
WORKDIR /data
ENV RUN_ADDRESS=0.0.0.0:8080
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/gophermart"]
