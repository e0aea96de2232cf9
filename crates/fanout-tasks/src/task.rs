//! Tasks: functions `fn(A) -> R` registered under a stable name, so that a
//! child process (another run of the same program) or a remote worker can
//! find and run them from the name alone — never from a function address,
//! which differs between processes.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::TaskError;

/// A function the pools can run. Declare one with [`crate::task!`], which
/// also registers it; the type is a zero-sized value that names the
/// function (`pool.map(add_one, 0..10)`).
pub trait Task: Copy + Send + Sync + 'static {
    /// The argument.
    type Arg: Serialize + DeserializeOwned + Send + 'static;
    /// The result.
    type Out: Serialize + DeserializeOwned + Send + 'static;
    /// The registered name: the module path and the function's name.
    const NAME: &'static str;
    /// Runs the function.
    fn call(arg: Self::Arg) -> Self::Out;
}

/// A task run on encoded bytes: the argument in, the result appended to
/// the buffer (left as it was on an error).
type Encoded = fn(&[u8], &mut Vec<u8>) -> Result<(), TaskError>;

/// One registered task, as a child process finds it by name.
#[doc(hidden)]
pub struct Entry {
    name: &'static str,
    run: Encoded,
}

impl Entry {
    /// The entry of task `T`.
    pub const fn of<T: Task>() -> Entry {
        Entry {
            name: T::NAME,
            run: run_encoded::<T>,
        }
    }
}

inventory::collect!(Entry);

/// Decodes the argument, runs `T` (a panic caught and returned) and
/// appends the encoded result to `out`.
fn run_encoded<T: Task>(arg: &[u8], out: &mut Vec<u8>) -> Result<(), TaskError> {
    let arg: T::Arg = postcard::from_bytes(arg).map_err(|e| {
        // Only a shared handle's refusal says more than "custom error".
        TaskError::Codec(crate::share::take_decode_error().unwrap_or_else(|| e.to_string()))
    })?;
    let value = call_caught::<T>(arg)?;
    crate::packed::append_encoded(&value, out)
}

/// Runs `T`, a panic returned as [`TaskError::Panicked`].
pub(crate) fn call_caught<T: Task>(arg: T::Arg) -> Result<T::Out, TaskError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| T::call(arg))).map_err(panicked)
}

/// The error for a caught panic, with its message when it had one.
pub(crate) fn panicked(p: Box<dyn std::any::Any + Send>) -> TaskError {
    let message = p
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    TaskError::Panicked { message }
}

/// The function that runs the task registered as `name`, encoded in and
/// out.
pub(crate) fn lookup(name: &str) -> Option<Encoded> {
    registered(name).map(|(_, run)| run)
}

/// The registered task called `name` (a name from the wire becomes the
/// static one) and its function.
pub(crate) fn registered(name: &str) -> Option<(&'static str, Encoded)> {
    static BY_NAME: OnceLock<HashMap<&'static str, Encoded>> = OnceLock::new();
    let map = BY_NAME.get_or_init(|| {
        inventory::iter::<Entry>()
            .map(|e| (e.name, e.run))
            .collect()
    });
    map.get_key_value(name).map(|(n, r)| (*n, *r))
}

/// Declares and registers a task: a function of one serde argument to a
/// serde result, callable directly and runnable by every pool.
///
/// ```
/// fanout_tasks::task! {
///     /// Adds one.
///     pub fn add_one(x: u64) -> u64 { x + 1 }
/// }
/// assert_eq!(add_one.call(1), 2);
/// ```
#[macro_export]
macro_rules! task {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($arg:tt : $argty:ty) -> $out:ty $body:block) => {
        $(#[$meta])*
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug)]
        $vis struct $name;

        impl $crate::Task for $name {
            type Arg = $argty;
            type Out = $out;
            const NAME: &'static str = concat!(module_path!(), "::", stringify!($name));
            fn call($arg: $argty) -> $out $body
        }

        impl $name {
            /// Runs the task here, as a plain function call.
            #[allow(dead_code)]
            $vis fn call(self, arg: $argty) -> $out {
                <$name as $crate::Task>::call(arg)
            }
        }

        $crate::inventory::submit! { $crate::Entry::of::<$name>() }
    };
}
