// Table 6: grid in SparseMixersPaper.TableCatalog; flags in SparseMixersTables.TableOptions
import SparseMixersTables

TableMain.run(.t6)
