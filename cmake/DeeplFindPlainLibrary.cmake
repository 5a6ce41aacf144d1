# deepl_find_plain_library(PACKAGE HEADER LIBRARY): finds a C library that ships neither pkg-config
# nor CMake files by its header and library name, and defines the imported target
# PACKAGE::PACKAGE. A macro, so PACKAGE_FOUND reaches the Find module's caller.
include(FindPackageHandleStandardArgs)
macro(deepl_find_plain_library package header library)
  find_path(${package}_INCLUDE_DIR ${header})
  find_library(${package}_LIBRARY ${library})
  find_package_handle_standard_args(${package} REQUIRED_VARS ${package}_LIBRARY ${package}_INCLUDE_DIR)
  if(${package}_FOUND AND NOT TARGET ${package}::${package})
    add_library(${package}::${package} UNKNOWN IMPORTED)
    set_target_properties(${package}::${package} PROPERTIES IMPORTED_LOCATION "${${package}_LIBRARY}"
                                                           INTERFACE_INCLUDE_DIRECTORIES "${${package}_INCLUDE_DIR}")
  endif()
  mark_as_advanced(${package}_INCLUDE_DIR ${package}_LIBRARY)
endmacro()
