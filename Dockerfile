# The Syllabus service: one static-enough binary (`syllabus`) on a minimal runtime image.
#
#   docker build -t syllabus .          (or: podman build --format docker -t syllabus .)
#   docker run --read-only -p 8080:8080 -e DATABASE_URL=... -e AUTH_JWT_SECRET=... \
#       -e OPENAI_API_KEY=... syllabus                    # serve; or `worker`, `migrate`
#
# Both base images are build arguments, so a build can use a mirror or locally made images
# (scripts/container-test.sh builds this file offline with images it makes with debootstrap).
# The runtime image must provide glibc and libgcc_s (what the binary links, see `ldd`) and CA
# certificates for an https:// OPENAI_BASE_URL; distroless/cc is exactly that.
ARG BUILDER_IMAGE=docker.io/library/rust:1.95-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${BUILDER_IMAGE} AS build
# Where the sources are built. A build that mounts a cargo target directory from outside as a
# cache (`podman build -v ...`) can put the sources at the host checkout's path, so the cache is
# shared with the host's own release builds (cargo's fingerprints hold absolute paths).
ARG SRC_DIR=/build
WORKDIR ${SRC_DIR}
COPY . .
# The binary is copied out of target/ in the same step, so the build also works with target/
# mounted from outside.
RUN cargo build --release --locked -p syllabus --bin syllabus \
    && install -D -m 0755 target/release/syllabus /out/syllabus

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/syllabus /usr/local/bin/syllabus
# The non-root user of distroless's :nonroot images, by number so that `runAsNonRoot` and
# `--user` checks need no /etc/passwd. Nothing is written to the root filesystem: run it with
# `--read-only` (or `readOnlyRootFilesystem: true`).
USER 65532:65532
ENV BIND_ADDR=0.0.0.0:8080 \
    LOG_FORMAT=json
EXPOSE 8080
# SIGTERM: stop claiming jobs, let running ones finish within SHUTDOWN_GRACE_MS (default 8 s,
# below the runtimes' 10 s kill), release the rest to `pending`, exit 0.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/syllabus", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/syllabus"]
CMD ["serve"]
