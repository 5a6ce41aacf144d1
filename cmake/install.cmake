# What `cmake --install` (and the Debian packages, scripts/package) put where, under the prefix:
#   bin/deepl, bin/deepl-*                   the CLIs                                  component runtime
#   share/deepl/experiments/                 the shipped experiments (--config NAME)   runtime
#   share/deepl/fetch, share/deepl/SHA256SUMS  the data fetcher and its checksums      runtime
#   share/man/man1/*.1                       man pages made from --help (help2man)     runtime
#   share/doc/deepl/README.md, LICENSE, docs/  the documentation                    runtime
#   include/deepl/, lib/<arch>/libdeepl.a    the library and its headers               dev
#   lib/<arch>/cmake/deepl/                  deeplConfig.cmake + version + targets     dev
include(CMakePackageConfigHelpers)

install(TARGETS deepl deepl_warnings EXPORT deeplTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(DIRECTORY include/deepl DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(FILES ${PROJECT_BINARY_DIR}/include/deepl/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/deepl COMPONENT dev)

set(DEEPL_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/deepl)
install(EXPORT deeplTargets NAMESPACE deepl:: DESTINATION ${DEEPL_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(cmake/deeplConfig.cmake.in ${PROJECT_BINARY_DIR}/deeplConfig.cmake
                              INSTALL_DESTINATION ${DEEPL_CMAKE_DIR} PATH_VARS DEEPL_SHARE_DIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/deeplConfigVersion.cmake COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/deeplConfig.cmake ${PROJECT_BINARY_DIR}/deeplConfigVersion.cmake cmake/FindLibCSV.cmake cmake/FindLibMD.cmake
              cmake/DeeplFindPlainLibrary.cmake
        DESTINATION ${DEEPL_CMAKE_DIR} COMPONENT dev)

install(DIRECTORY experiments/ DESTINATION ${DEEPL_SHARE_DIR}/experiments COMPONENT runtime
        FILES_MATCHING PATTERN "*.json" PATTERN results EXCLUDE)
install(PROGRAMS data/fetch DESTINATION ${DEEPL_SHARE_DIR} COMPONENT runtime)
install(FILES data/SHA256SUMS DESTINATION ${DEEPL_SHARE_DIR} COMPONENT runtime)
install(FILES README.md LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs COMPONENT runtime FILES_MATCHING PATTERN "*.md")

# Man pages, when help2man is installed: the CLIs' --help (and each subcommand's) as troff.
find_program(HELP2MAN_PROGRAM help2man)
if(HELP2MAN_PROGRAM)
  set(man_pages)
  foreach(target deepl_cli deepl_mnist_mlp deepl_mnist_cnn deepl_fashion deepl_basics)
    get_target_property(name ${target} OUTPUT_NAME)
    set(page ${PROJECT_BINARY_DIR}/man/${name}.1)
    add_custom_command(OUTPUT ${page}
                       COMMAND bash ${PROJECT_SOURCE_DIR}/cmake/man-page $<TARGET_FILE:${target}> ${PROJECT_VERSION} ${page}
                       DEPENDS ${target} ${PROJECT_SOURCE_DIR}/cmake/man-page VERBATIM)
    list(APPEND man_pages ${page})
  endforeach()
  add_custom_target(man_pages ALL DEPENDS ${man_pages})
  install(FILES ${man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT runtime)
else()
  message(STATUS "help2man not found: no man pages (scripts/setup --with-packaging installs it)")
endif()
