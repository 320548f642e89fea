// Declarations only (include/cfuzz.h); SwiftPM wants a source file per C target.
#include "cfuzz.h"
