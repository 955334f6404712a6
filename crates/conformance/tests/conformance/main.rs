//! Spec conformance, the adversarial guest suite, and the fuzz targets' logic.

mod adversarial;
mod fuzz_logic;
mod isolation;
mod spec;
