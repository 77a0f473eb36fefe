# The mailreg container image: the static (musl) binary on an empty base, with CA certificates,
# running as a non-root user (65532). The build context is the folder scripts/container-context.sh
# makes (the release workflow does this for linux/amd64 and linux/arm64):
#
#   scripts/container-context.sh target/x86_64-unknown-linux-musl/release/mailreg ctx
#   docker build -f Dockerfile -t mailreg ctx
#   docker run --rm -v "$PWD:/work" --user "$(id -u):$(id -g)" mailreg plan --env prod
FROM scratch
# rootfs/: usr/local/bin/mailreg, etc/ssl/certs/ca-certificates.crt, etc/passwd and etc/group
# (the user nonroot, 65532), tmp/ and work/ (both 1777).
COPY rootfs/ /
USER 65532:65532
WORKDIR /work
ENV HOME=/work \
    PATH=/usr/local/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
ENTRYPOINT ["mailreg"]
