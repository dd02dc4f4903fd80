{
  "targets": [
    {
      "target_name": "alp_native",
      "sources": ["src/alp_native.c"],
      "include_dirs": [
        "/usr/include/x86_64-linux-gnu/openblas-pthread",
        "/usr/include/aarch64-linux-gnu/openblas-pthread",
        "/usr/include/openblas"
      ],
      "cflags!": ["-O2", "-O0", "-g"],
      "cflags": ["-std=gnu11", "-O3", "-fno-math-errno", "-ffp-contract=off", "-fno-trapping-math", "-Wall", "-Wno-unused-parameter"],
      "conditions": [
        ["target_arch == 'x64'", { "cflags": ["-march=x86-64-v2", "-mtune=generic"] }]
      ],
      "libraries": ["-lopenblas", "-lpthread", "-lm"]
    }
  ]
}
