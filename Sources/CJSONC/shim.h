// json-c (Debian: libjson-c-dev, pkg-config "json-c").
#include <json.h>
