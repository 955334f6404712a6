//! The crate's error type.

/// A boxed error from a [`Codec`](crate::Codec).
pub type CodecError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors of the call optimizer itself (the guest call's own errors are passed through
/// untouched as the caller's `E`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallOptError {
    /// The typed layer could not encode a call's arguments, so it could not build the memo key.
    /// The call was not executed.
    #[error(
        "could not encode the arguments of pure export `{export}` to build its memo key: {source}; \
         make the argument type serializable by the codec, or encode the arguments yourself and \
         use `CallOptimizer::call`"
    )]
    EncodeArgs {
        /// The export being called.
        export: Box<str>,
        /// The codec's error.
        #[source]
        source: CodecError,
    },
}
