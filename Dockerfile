# Builds authd and mcpd into one small static image; authd is the default entry point (compose runs mcpd
# from the same image with another entrypoint).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/authd ./cmd/mcpd

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/authd /out/mcpd /usr/local/bin/
COPY examples/bootstrap.yaml /etc/mcpauth/bootstrap.yaml
USER nonroot
EXPOSE 9000 8000
ENTRYPOINT ["/usr/local/bin/authd"]
CMD ["serve"]
