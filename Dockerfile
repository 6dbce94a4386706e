# Builds authd (and, once it exists, mcpd) into a small static image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/authd ./cmd/authd

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/authd /usr/local/bin/authd
COPY examples/bootstrap.yaml /etc/mcpauth/bootstrap.yaml
USER nonroot
EXPOSE 9000
ENTRYPOINT ["/usr/local/bin/authd"]
CMD ["serve"]
