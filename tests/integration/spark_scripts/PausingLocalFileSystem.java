// Test-only fault injector: Hadoop's local file system, paused at a named point on one directory.
//
// PAUSE_DIR names a dataset directory, PAUSE_AT the point, PAUSE_FIFO a FIFO. At the point the
// JVM writes the point's name to the FIFO and then blocks forever, so a test knows exactly where
// the application is when it SIGKILLs it:
//   delete: inside a recursive delete of PAUSE_DIR, after its part files are gone (a directory
//           walk deletes part-00000.csv before _SUCCESS), before anything else is deleted;
//   write:  when a part file under PAUSE_DIR (a task's temporary file included) is created.
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;

public class PausingLocalFileSystem extends LocalFileSystem {
  private static final String DIR = System.getenv("PAUSE_DIR");
  private static final String AT = System.getenv("PAUSE_AT");
  private static final String FIFO = System.getenv("PAUSE_FIFO");
  @Override public boolean delete(Path f, boolean recursive) throws IOException {
    if ("delete".equals(AT) && recursive && same(f)) {
      for (FileStatus s : listStatus(f)) {
        if (s.getPath().getName().startsWith("part-")) { super.delete(s.getPath(), false); }
      }
      pause("delete");
    }
    return super.delete(f, recursive);
  }
  @Override public FSDataOutputStream create(Path f, FsPermission p, boolean o, int b, short r, long s, Progressable g) throws IOException {
    if ("write".equals(AT) && f.getName().startsWith("part-") && under(f)) { pause("write"); }
    return super.create(f, p, o, b, r, s, g);
  }
  private static String local(Path f) { return f.toUri().getPath().replaceAll("/+$", ""); }
  private static boolean same(Path f) { return DIR != null && local(f).equals(DIR); }
  private static boolean under(Path f) { return DIR != null && local(f).startsWith(DIR + "/"); }
  private static void pause(String point) throws IOException {
    try (FileOutputStream out = new FileOutputStream(FIFO)) { out.write((point + "\n").getBytes(StandardCharsets.UTF_8)); }
    try { Thread.sleep(Long.MAX_VALUE); } catch (InterruptedException e) { throw new IOException(e); }
  }
}
