# Installs the build into a fresh prefix, then builds and runs C consumers of libmxl and of
# libmxl-fabric (mxl/fabrics.h) with CMake's find_package(mxl) and with pkg-config, as users of the
# installed libraries would.
# Usage: cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -P CheckInstall.cmake
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
    endif()
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(required include/mxl/mxl.h include/mxl/flow.h include/mxl/fabrics.h)
    if(NOT EXISTS ${prefix}/${required})
        message(FATAL_ERROR "${required} was not installed")
    endif()
endforeach()
file(GLOB_RECURSE libs ${prefix}/*/libmxl.so.0)
if(NOT libs)
    message(FATAL_ERROR "libmxl.so.0 (the SONAME) was not installed")
endif()
list(GET libs 0 lib)
get_filename_component(libdir ${lib} DIRECTORY)
if(NOT EXISTS ${libdir}/libmxl-fabric.so.0)
    message(FATAL_ERROR "libmxl-fabric.so.0 (the SONAME) was not installed next to libmxl")
endif()

# find_package(mxl)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/consumer -B ${WORK_DIR}/cmake-consumer -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/cmake-consumer)
run(${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${libdir} ${WORK_DIR}/cmake-consumer/consumer)
run(${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${libdir} ${WORK_DIR}/cmake-consumer/fabrics-consumer)

# pkg-config
find_program(PKG_CONFIG pkg-config REQUIRED)
find_program(CC NAMES cc gcc REQUIRED)
foreach(consumer consumer:libmxl fabrics_consumer:libmxl-fabric)
    string(REPLACE ":" ";" consumer ${consumer})
    list(GET consumer 0 source)
    list(GET consumer 1 package)
    execute_process(COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${libdir}/pkgconfig ${PKG_CONFIG} --cflags --libs ${package}
        RESULT_VARIABLE rc OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "pkg-config does not know ${package}")
    endif()
    separate_arguments(flags UNIX_COMMAND "${flags}")
    run(${CC} -std=c17 -Wall -Werror ${SOURCE_DIR}/tests/install/consumer/${source}.c ${flags} -o ${WORK_DIR}/pc-${source})
    run(${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${libdir} ${WORK_DIR}/pc-${source})
endforeach()
file(REMOVE_RECURSE ${WORK_DIR})
message(STATUS "installed libmxl and libmxl-fabric work with find_package(mxl) and pkg-config")
