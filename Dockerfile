# convgen: the server and the client CLI on Debian 12.
#   podman build -t convgen .        (or docker build)
# The build stage installs its packages with scripts/bootstrap --build and builds the
# release preset; the runtime stage holds the two binaries, data/ and only the shared
# libraries they load (listed by the build stage from the binaries themselves).

FROM docker.io/library/debian:bookworm AS build
WORKDIR /src
COPY scripts/bootstrap scripts/bootstrap
RUN scripts/bootstrap --build && rm -rf /var/lib/apt/lists/*
COPY CMakeLists.txt CMakePresets.json ./
COPY proto proto
COPY core core
COPY server server
COPY client client
RUN cmake --preset release -DCONVGEN_BUILD_TESTS=OFF -DCONVGEN_BUILD_BENCH=OFF \
      -DCONVGEN_BUILD_PYTHON_STUBS=OFF \
 && cmake --build --preset release -j"$(nproc)" --target convgen-server convgen \
 && mkdir -p /out \
 && cp build/release/server/convgen-server build/release/client/convgen /out/ \
 && strip /out/convgen-server /out/convgen \
 && ldd /out/convgen-server /out/convgen | awk '$3 ~ /^\// {print $3}' | sort -u | xargs realpath > /out/libs \
 && while read -r lib; do \
      dpkg -S "$lib" 2>/dev/null || dpkg -S "${lib#/usr}" 2>/dev/null \
        || { echo "no Debian package has $lib" >&2; exit 1; }; \
    done < /out/libs > /out/owners \
 && cut -d: -f1 /out/owners | sort -u > /out/runtime-packages

FROM docker.io/library/debian:bookworm-slim
COPY --from=build /out/runtime-packages /tmp/runtime-packages
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive xargs -a /tmp/runtime-packages \
      apt-get install -y -qq --no-install-recommends >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log /tmp/runtime-packages
COPY --from=build /out/convgen-server /out/convgen /usr/local/bin/
COPY data /usr/share/convgen/data
ENV CONVGEN_DATA_DIR=/usr/share/convgen/data
USER 65532:65532
# gRPC; Prometheus metrics.
EXPOSE 50051 9090
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s CMD ["convgen", "health", "--server", "localhost:50051"]
ENTRYPOINT ["convgen-server"]
CMD ["--listen=0.0.0.0:50051", "--metrics-listen=0.0.0.0:9090"]
