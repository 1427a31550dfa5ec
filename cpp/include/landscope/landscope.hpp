#pragma once
// Umbrella header of the landscope C++ engine.
#include "landscope/activation.hpp"
#include "landscope/diagnostic.hpp"
#include "landscope/model.hpp"
#include "landscope/network.hpp"
#include "landscope/operator.hpp"
#include "landscope/optimizer.hpp"
#include "landscope/point.hpp"
#include "landscope/product_toy.hpp"
#include "landscope/schedule.hpp"
#include "landscope/spectra.hpp"
#include "landscope/status.hpp"
#include "landscope/interrupt.hpp"
#include "landscope/threads.hpp"
#include "landscope/train.hpp"
#include "landscope/types.hpp"
#include "landscope/version.hpp"  // LANDSCOPE_VERSION, generated from pyproject.toml
