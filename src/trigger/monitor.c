#include "build-config.h"
