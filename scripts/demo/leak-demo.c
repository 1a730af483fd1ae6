/* The leaking program of docs/report-format.md, "Side by side: valgrind,
 * heaptrack, rcshim": a SQLite connection, an fd, 1000 heap blocks and a
 * temp directory, each from a function of its own.  Run by
 * scripts/demo/side-by-side.sh. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
static sqlite3 *open_index(const char *p){sqlite3 *db; sqlite3_open(p,&db); return db;}
static int open_log(const char *p){return open(p,O_WRONLY|O_CREAT|O_APPEND,0600);}
static char *parse_record(int i){char *p=malloc(34); memset(p,i,34); return p;}
int main(){open_index("/tmp/sq-demo.db"); open_log("/tmp/sq-demo.log"); for(int i=0;i<1000;i++) parse_record(i); char t[]="/tmp/sqdXXXXXX"; mkdtemp(t); return 0;}
