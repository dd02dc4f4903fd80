'use strict';
// Loads the optional native kernels (see README.md). Exports the addon, or
// null when it is not built, disabled (ALP_NO_NATIVE=1) or fails to load.
// Never throws.
let addon = null;
if (!/^(1|true|yes)$/i.test(process.env.ALP_NO_NATIVE || '')) {
  try {
    addon = require('./build/Release/alp_native.node');
  } catch {
    addon = null;
  }
}
module.exports = addon;
