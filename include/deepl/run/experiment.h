#pragma once
// Whole runs, assembled from the library's pieces: what `deepl train|eval|predict|export` and the
// notebook apps call.
#include "deepl/run/checkpoint_use.h"
#include "deepl/run/train_session.h"
