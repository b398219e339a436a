# pixelmill_layer(): one static library per source folder, with its place in the layering.
#
#   pixelmill_layer(common/image SOURCES image_format.cc ... LAYERS common/base LIBS PkgConfig::VIPS)
#
# makes the library pixelmill_<folder name> (pixelmill_image) from the folder's sources, links the
# layers it names (and, through them, theirs) and the external LIBS publicly, and checks at
# configure time that no file of the folder includes a header of a layer it does not reach:
# a lower layer including a higher one, or a layer reaching sideways, stops the configure with
# the file and the include to move. The folder's own headers are always allowed.
#
# Every target of ours gets the warnings once, through pixelmill_warnings.
add_library(pixelmill_warnings INTERFACE)
# -Wno-restrict: GCC 12 reports false positives inside std::string operator+ (GCC PR 105329).
target_compile_options(pixelmill_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Werror -Wno-restrict)

# The folders whose headers a file may include ("common/base", ...): the folder itself and
# every layer it reaches.
function(pixelmill_layer_reach out folder)
  set(reach ${folder})
  get_property(direct GLOBAL PROPERTY PIXELMILL_LAYER_${folder})
  foreach(dep IN LISTS direct)
    pixelmill_layer_reach(sub ${dep})
    list(APPEND reach ${sub})
  endforeach()
  list(REMOVE_DUPLICATES reach)
  set(${out} ${reach} PARENT_SCOPE)
endfunction()

function(pixelmill_layer_target out folder)
  get_filename_component(name ${folder} NAME)
  set(${out} pixelmill_${name} PARENT_SCOPE)
endfunction()

# Fails the configure if a file under `dir` includes a layer's header outside `reach`.
function(pixelmill_check_includes dir reach)
  file(GLOB files ${dir}/*.h ${dir}/*.cc ${dir}/*.cpp)
  foreach(file IN LISTS files)
    file(STRINGS ${file} includes REGEX "^#include \"(common|coordinator)/[a-z_]+/")
    foreach(line IN LISTS includes)
      string(REGEX MATCH "\"((common|coordinator)/[a-z_]+)/" _ "${line}")
      if(NOT CMAKE_MATCH_1 IN_LIST reach)
        file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR} ${file})
        message(FATAL_ERROR "layering: ${rel} includes ${CMAKE_MATCH_1}, which its layer does "
          "not depend on (it may use: ${reach}). Move the code down, or declare the dependency "
          "in pixelmill_layer() if it is one-way.")
      endif()
    endforeach()
  endforeach()
endfunction()

function(pixelmill_layer folder)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;LAYERS;LIBS")
  set_property(GLOBAL PROPERTY PIXELMILL_LAYER_${folder} ${arg_LAYERS})
  pixelmill_layer_reach(reach ${folder})
  pixelmill_check_includes(${CMAKE_CURRENT_SOURCE_DIR} "${reach}")
  pixelmill_layer_target(target ${folder})
  add_library(${target} STATIC ${arg_SOURCES})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${target} PRIVATE pixelmill_warnings)
  foreach(dep IN LISTS arg_LAYERS)
    pixelmill_layer_target(dep_target ${dep})
    target_link_libraries(${target} PUBLIC ${dep_target})
  endforeach()
  target_link_libraries(${target} PUBLIC ${arg_LIBS})
  # Linked into libpixelmill.so too.
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()

# A program or test of ours in `folder` that may include the headers of `LAYERS` (checked as for
# a layer): pixelmill_check_program(worker LAYERS common/base common/wire common/filters).
function(pixelmill_check_program folder)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "LAYERS")
  set(reach)
  foreach(dep IN LISTS arg_LAYERS)
    pixelmill_layer_reach(sub ${dep})
    list(APPEND reach ${sub})
  endforeach()
  list(APPEND reach ${folder})
  pixelmill_check_includes(${PROJECT_SOURCE_DIR}/${folder} "${reach}")
endfunction()
