# The rostersync image: a static binary on distroless, run as a non-root
# user. Build it from the repository's root:
#
#	docker build --build-arg VERSION=1.4.0 -t registry.example.com/rostersync:1.4.0 .
#
# .ci/image-check checks the build stage's command (.ci/build-static)
# on every CI run, and builds the image where a container builder works.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
RUN sh .ci/build-static /out/rostersync "$VERSION"

# static-debian12 holds CA certificates and time zones, no shell; nonroot
# is uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/rostersync /usr/local/bin/rostersync
USER nonroot:nonroot
WORKDIR /home/nonroot
ENTRYPOINT ["/usr/local/bin/rostersync"]
CMD ["help"]
