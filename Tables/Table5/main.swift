// Table 5: grid in SparseMixersPaper.TableCatalog; flags in SparseMixersTables.TableOptions
import SparseMixersTables

TableMain.run(.t5)
