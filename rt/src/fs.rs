//! File system helpers that run on the blocking pool ([`blocking`]), so a
//! slow disk parks the coroutine instead of its worker. Same names and
//! results as `std::fs`; outside a coroutine they are plain `std::fs` calls.
//!
//! ```
//! let dir = std::env::temp_dir().join(format!("rt-fs-doc-{}", std::process::id()));
//! rt::run(|| {
//!     rt::fs::create_dir_all(&dir).unwrap();
//!     let path = dir.join("hello.txt");
//!     rt::fs::write(&path, "hello").unwrap();
//!     assert_eq!(rt::fs::read_to_string(&path).unwrap(), "hello");
//!     rt::fs::remove_dir_all(&dir).unwrap();
//! });
//! ```

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::blocking::blocking;

/// Run a `std::fs` call on the blocking pool with an owned path.
#[track_caller]
fn on_pool<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce(PathBuf) -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let path = path.to_path_buf();
    blocking(move || f(path))
}

/// The whole file, like `std::fs::read`.
///
/// ```
/// let path = std::env::temp_dir().join(format!("rt-fs-read-{}", std::process::id()));
/// std::fs::write(&path, [1, 2, 3]).unwrap();
/// assert_eq!(rt::run(|| rt::fs::read(&path)).unwrap(), [1, 2, 3]);
/// # std::fs::remove_file(&path).unwrap();
/// ```
#[track_caller]
pub fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    on_pool(path.as_ref(), std::fs::read)
}

/// The whole file as UTF-8, like `std::fs::read_to_string`.
///
/// ```
/// let path = std::env::temp_dir().join(format!("rt-fs-rts-{}", std::process::id()));
/// std::fs::write(&path, "text").unwrap();
/// assert_eq!(rt::run(|| rt::fs::read_to_string(&path)).unwrap(), "text");
/// # std::fs::remove_file(&path).unwrap();
/// ```
#[track_caller]
pub fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    on_pool(path.as_ref(), std::fs::read_to_string)
}

/// Create or truncate the file and write `contents`, like `std::fs::write`.
///
/// ```
/// let path = std::env::temp_dir().join(format!("rt-fs-write-{}", std::process::id()));
/// rt::run(|| rt::fs::write(&path, b"bytes")).unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"bytes");
/// # std::fs::remove_file(&path).unwrap();
/// ```
#[track_caller]
pub fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let contents = contents.as_ref().to_vec();
    on_pool(path.as_ref(), move |path| std::fs::write(path, contents))
}

/// Create a directory and its parents, like `std::fs::create_dir_all`.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("rt-fs-mkdir-{}/a/b", std::process::id()));
/// rt::run(|| rt::fs::create_dir_all(&dir)).unwrap();
/// assert!(dir.is_dir());
/// # std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap()).unwrap();
/// ```
#[track_caller]
pub fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    on_pool(path.as_ref(), std::fs::create_dir_all)
}

/// Remove a file, like `std::fs::remove_file`.
///
/// ```
/// let path = std::env::temp_dir().join(format!("rt-fs-rm-{}", std::process::id()));
/// std::fs::write(&path, "").unwrap();
/// rt::run(|| rt::fs::remove_file(&path)).unwrap();
/// assert!(!path.exists());
/// ```
#[track_caller]
pub fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    on_pool(path.as_ref(), std::fs::remove_file)
}

/// Remove a directory and everything in it, like `std::fs::remove_dir_all`.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("rt-fs-rmdir-{}", std::process::id()));
/// std::fs::create_dir_all(dir.join("x")).unwrap();
/// rt::run(|| rt::fs::remove_dir_all(&dir)).unwrap();
/// assert!(!dir.exists());
/// ```
#[track_caller]
pub fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    on_pool(path.as_ref(), std::fs::remove_dir_all)
}

/// File metadata, like `std::fs::metadata`.
///
/// ```
/// let path = std::env::temp_dir().join(format!("rt-fs-meta-{}", std::process::id()));
/// std::fs::write(&path, "four").unwrap();
/// assert_eq!(rt::run(|| rt::fs::metadata(&path)).unwrap().len(), 4);
/// # std::fs::remove_file(&path).unwrap();
/// ```
#[track_caller]
pub fn metadata(path: impl AsRef<Path>) -> io::Result<std::fs::Metadata> {
    on_pool(path.as_ref(), std::fs::metadata)
}

/// An open file whose reads, writes and seeks run on the blocking pool.
/// Each call copies through a buffer owned by the pool job (the coroutine
/// may be cancelled while the job runs).
///
/// ```
/// use std::io::{Read, Seek, SeekFrom, Write};
/// let path = std::env::temp_dir().join(format!("rt-fs-file-{}", std::process::id()));
/// rt::run(|| {
///     let mut file = rt::fs::File::create(&path).unwrap();
///     file.write_all(b"hello, file").unwrap();
///     file.seek(SeekFrom::Start(7)).unwrap();
///     let mut file = rt::fs::File::open(&path).unwrap();
///     let mut text = String::new();
///     file.read_to_string(&mut text).unwrap();
///     assert_eq!(text, "hello, file");
/// });
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub struct File {
    inner: Arc<std::fs::File>,
}

impl File {
    /// Open for reading, like `std::fs::File::open`.
    ///
    /// ```
    /// let missing = rt::run(|| rt::fs::File::open("/nonexistent/rt-file"));
    /// assert_eq!(missing.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    /// ```
    #[track_caller]
    pub fn open(path: impl AsRef<Path>) -> io::Result<File> {
        Ok(File::from_std(on_pool(path.as_ref(), std::fs::File::open)?))
    }

    /// Create or truncate for writing, like `std::fs::File::create`.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("rt-fs-create-{}", std::process::id()));
    /// let file = rt::run(|| rt::fs::File::create(&path)).unwrap();
    /// # drop(file); std::fs::remove_file(&path).unwrap();
    /// ```
    #[track_caller]
    pub fn create(path: impl AsRef<Path>) -> io::Result<File> {
        Ok(File::from_std(on_pool(
            path.as_ref(),
            std::fs::File::create,
        )?))
    }

    /// Wrap a std file.
    ///
    /// ```
    /// let file = rt::fs::File::from_std(std::fs::File::open("/dev/null").unwrap());
    /// # drop(file);
    /// ```
    pub fn from_std(file: std::fs::File) -> File {
        File {
            inner: Arc::new(file),
        }
    }

    /// Flush data and metadata to disk, like `std::fs::File::sync_all`.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("rt-fs-sync-{}", std::process::id()));
    /// rt::run(|| rt::fs::File::create(&path).unwrap().sync_all()).unwrap();
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    #[track_caller]
    pub fn sync_all(&self) -> io::Result<()> {
        self.on_pool(|file| file.sync_all())
    }

    /// Metadata, like `std::fs::File::metadata`.
    ///
    /// ```
    /// let file = rt::fs::File::open("/dev/null").unwrap();
    /// assert_eq!(file.metadata().unwrap().len(), 0);
    /// ```
    #[track_caller]
    pub fn metadata(&self) -> io::Result<std::fs::Metadata> {
        self.on_pool(|file| file.metadata())
    }

    /// Truncate or extend, like `std::fs::File::set_len`.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("rt-fs-len-{}", std::process::id()));
    /// let file = rt::fs::File::create(&path).unwrap();
    /// file.set_len(10).unwrap();
    /// assert_eq!(file.metadata().unwrap().len(), 10);
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    #[track_caller]
    pub fn set_len(&self, len: u64) -> io::Result<()> {
        self.on_pool(move |file| file.set_len(len))
    }

    #[track_caller]
    fn on_pool<T: Send + 'static>(
        &self,
        f: impl FnOnce(&std::fs::File) -> io::Result<T> + Send + 'static,
    ) -> io::Result<T> {
        let file = self.inner.clone();
        blocking(move || f(&file))
    }
}

impl Read for File {
    #[track_caller]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        let data = self.on_pool(move |mut file| {
            let mut data = vec![0; len];
            let n = file.read(&mut data)?;
            data.truncate(n);
            Ok(data)
        })?;
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }
}

impl Write for File {
    #[track_caller]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let data = buf.to_vec();
        self.on_pool(move |mut file| file.write(&data))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(()) // std::fs::File has no user-space buffer
    }
}

impl Seek for File {
    #[track_caller]
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.on_pool(move |mut file| file.seek(pos))
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("File").field(&self.inner).finish()
    }
}
