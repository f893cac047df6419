# notify-handler as a container: the musl-static binary alone on an empty filesystem.
#
#   docker build -t notify-handler .
#   docker run --rm -p 8080:8080 notify-handler            # outbox mode: .eml files in /outbox
#   docker run --rm -p 8080:8080 -v "$PWD/outbox:/outbox" notify-handler
#
# Where no base image can be pulled, the builder stage is replaced by the binary `make static`
# made, through a named build context holding rootfs/handler and rootfs/outbox (the stage is then
# skipped): `make image` does that with podman (scripts/image.sh):
#
#   podman build --build-context builder=DIR -t notify-handler .
#
# Configuration is the handler's environment (handler --help): EMAIL_SENDER, ACS_ENDPOINT or
# COMMUNICATION_SERVICES_CONNECTION_STRING, NOTIFY_API_KEY, ...

# ---- builder: Debian bookworm, the same recipe as `make static` on a developer machine ----------
FROM debian:bookworm-slim AS builder
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# Dependencies first, so this layer (Debian packages + BearSSL from Debian's source package,
# scripts/deps.sh) is cached until the Makefile or the script changes.
COPY Makefile ./
COPY scripts/ scripts/
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends ca-certificates make gcc libc6-dev >/dev/null \
 && make deps NOTIFY_DEPS=build
COPY include/ include/
COPY src/ src/
COPY certs/ certs/
COPY tools/ tools/
RUN make static \
 && mkdir -p /rootfs/outbox \
 && cp build/static/handler /rootfs/handler

# ---- final: nothing but the binary and an empty outbox the unprivileged user can write ----------
FROM scratch
COPY --from=builder /rootfs/handler /handler
COPY --from=builder --chown=65534:65534 /rootfs/outbox /outbox
USER 65534:65534
EXPOSE 8080
ENV PORT=8080 NOTIFY_OUTBOX_DIR=/outbox
ENTRYPOINT ["/handler"]
